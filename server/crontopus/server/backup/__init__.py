"""`crontopus-server backup` and `restore`: the database, the Git repositories, the secret key."""
