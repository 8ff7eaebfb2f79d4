<?php
// The people of the test IdP, with a `role` attribute carrying the
// platform's IdP roles (`member`, `factory-admin`), as Entra ID's app roles would.
$config = [
    'admin' => ['core:AdminPassword'],
    'example-userpass' => [
        'exampleauth:UserPass',
        'alice:alice-password' => [
            'uid' => ['alice'],
            'mail' => ['alice@example.test'],
            'displayName' => ['Alice Admin'],
            'role' => ['factory-admin', 'member'],
        ],
        'bob:bob-password' => [
            'uid' => ['bob'],
            'mail' => ['bob@example.test'],
            'displayName' => ['Bob Builder'],
            'role' => ['member'],
        ],
        'carol:carol-password' => [
            'uid' => ['carol'],
            'mail' => ['carol@example.test'],
            'displayName' => ['Carol Unassigned'],
        ],
    ],
];
