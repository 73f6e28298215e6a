# The Ruby SDK v3 with its default credential chain: prints the caller's Arn, or the error as a
# program using the SDK would see it. Debian's aws-sdk-core (3.168) ignores AWS_ENDPOINT_URL: the
# endpoint is set here from that variable.
require 'aws-sdk-core'

begin
  client = Aws::STS::Client.new(endpoint: ENV.fetch('AWS_ENDPOINT_URL'))
  puts client.get_caller_identity.arn
rescue StandardError => e
  puts "error: #{e.class}: #{e.message}"
  exit 1
end
