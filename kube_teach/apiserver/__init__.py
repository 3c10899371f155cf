"""The API server: every read and write of cluster state goes through here."""
