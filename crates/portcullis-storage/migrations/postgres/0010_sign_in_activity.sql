-- When each account last signed in, and with which provider: the Members
-- page shows it after the sessions themselves have ended and been purged.
-- Written with each new session (the one place every browser sign-in ends).
ALTER TABLE users ADD COLUMN last_sign_in_at BIGINT;
ALTER TABLE users ADD COLUMN last_sign_in_provider TEXT;
