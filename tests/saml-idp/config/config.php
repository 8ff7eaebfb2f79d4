<?php
// SimpleSAMLphp (Debian's package, 1.19) as a SAML 2.0 IdP for Portcullis's
// tests. Everything that varies per run comes from the environment, set by
// the test harness (crates/portcullis-server/tests/support/saml_peer.rs):
//   SSP_BASE_URL   http://127.0.0.1:PORT/  (where `php -S` serves www/)
//   SSP_STATE_DIR  a fresh folder for logs, data and temporary files
//   SSP_SP_JSON    the Portcullis SPs to trust (see metadata/saml20-sp-remote.php)
$state = getenv('SSP_STATE_DIR') ?: sys_get_temp_dir();
$config = [
    'baseurlpath' => getenv('SSP_BASE_URL'),
    'certdir' => dirname(__DIR__) . '/cert/',
    'metadatadir' => __DIR__ . '/metadata/',
    'loggingdir' => $state . '/',
    'datadir' => $state . '/',
    'tempdir' => $state . '/tmp',
    // Test-only values: this IdP never runs outside the test suite.
    'secretsalt' => 'portcullis-test-salt-not-secret',
    'auth.adminpassword' => 'portcullis-test-admin',
    'admin.protectindexpage' => true,
    'admin.protectmetadata' => false,
    'technicalcontact_name' => 'Portcullis tests',
    'technicalcontact_email' => 'tests@example.test',
    'timezone' => 'UTC',
    'enable.saml20-idp' => true,
    'enable.shib13-idp' => false,
    'module.enable' => ['exampleauth' => true, 'core' => true, 'saml' => true],
    'logging.level' => SimpleSAML\Logger::WARNING,
    'logging.handler' => 'errorlog',
    'store.type' => 'phpsession',
    'session.cookie.secure' => false,
    'session.phpsession.savepath' => $state,
    'language.available' => ['en'],
    'theme.use' => 'default',
];
