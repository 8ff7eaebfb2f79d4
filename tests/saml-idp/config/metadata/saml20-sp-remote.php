<?php
// The Portcullis service providers this IdP trusts, from the JSON file the
// test harness writes (SSP_SP_JSON): a list of
//   {"entity_id", "acs", "cert" (base64 DER, for signed requests and
//    encryption), "encrypt" (bool), "sign_alg" (optional),
//    "slo" (optional: the SP's single logout service, HTTP-Redirect)}
$sps = json_decode(file_get_contents(getenv('SSP_SP_JSON')), true) ?: [];
foreach ($sps as $sp) {
    $entry = [
        'AssertionConsumerService' => $sp['acs'],
        'NameIDFormat' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
        'simplesaml.nameidattribute' => 'uid',
        'assertion.encryption' => !empty($sp['encrypt']),
        'saml20.sign.response' => true,
        'saml20.sign.assertion' => true,
    ];
    if (!empty($sp['cert'])) {
        $entry['certData'] = $sp['cert'];
        $entry['validate.authnrequest'] = true;
        // Logout messages from the SP must be signed with that certificate.
        $entry['validate.logout'] = true;
    }
    if (!empty($sp['sign_alg'])) {
        $entry['signature.algorithm'] = $sp['sign_alg'];
    }
    if (!empty($sp['slo'])) {
        $entry['SingleLogoutService'] = $sp['slo'];
    }
    $metadata[$sp['entity_id']] = $entry;
}
