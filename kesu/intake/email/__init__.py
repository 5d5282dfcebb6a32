"""Email intake: IMAP mailboxes become complaints and replies thread into them."""
