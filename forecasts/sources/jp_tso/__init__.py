"""Japanese TSO area supply–demand files (エリア需給実績): parser and CLI."""
