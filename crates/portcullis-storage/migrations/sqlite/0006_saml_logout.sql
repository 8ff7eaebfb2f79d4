-- SAML single logout (issue 6).

-- A LogoutRequest names the user by the NameID the IdP sent at sign-in
-- (SAML 2.0 Core §3.7.3.2), which may differ from the key of the account
-- (Entra ID's accounts are keyed on the object id): each SAML session keeps
-- a hash of its IdP, NameID format and NameID, and the SessionIndex in
-- idp_sid.
ALTER TABLE sessions ADD COLUMN idp_name_id_hash TEXT;
CREATE INDEX sessions_idp_name_id ON sessions (provider, idp_name_id_hash);
