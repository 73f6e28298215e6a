"""One module per mode of the command line."""
