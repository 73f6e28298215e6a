"""AWS calls: the only code that imports botocore. `client` makes and calls every client (the
safety checks on its settings, the bounds, error translation); `sts` and `iam` are the calls;
`answers` checks what AWS sends back before anything keeps it."""
