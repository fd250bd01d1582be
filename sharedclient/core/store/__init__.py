"""SQLite storage: header cache per account; later the outbox, sent-as history and audit trail."""
