"""aws-mfa-run: MFA session credentials for the AWS CLI and every SDK."""

__version__ = "0.1.0"
