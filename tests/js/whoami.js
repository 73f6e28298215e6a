// The JavaScript SDK v3 with its default credential chain: prints the caller's Arn, or the error
// as a program using the SDK would see it (its message and the endpoint's Message, if any).
"use strict";
const { STSClient, GetCallerIdentityCommand } = require("@aws-sdk/client-sts");

async function main() {
  const client = new STSClient({});
  try {
    const answer = await client.send(new GetCallerIdentityCommand({}));
    console.log(answer.Arn);
  } catch (error) {
    console.log(`error: ${error.name}: ${error.message}${error.Message ? ` (${error.Message})` : ""}`);
    process.exitCode = 1;
  }
}

main();
