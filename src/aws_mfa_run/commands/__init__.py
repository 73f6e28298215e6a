"""One module per face of aws-mfa-run."""
