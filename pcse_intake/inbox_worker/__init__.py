"""The edges that touch the world: IMAP, SMTP, the scheduler daemon, the command line, the demo."""
