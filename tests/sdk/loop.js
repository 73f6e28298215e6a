// The JavaScript SDK v3 with its default credential chain, as a long job uses it: one STS client
// calling GetCallerIdentity every INTERVAL seconds for SECONDS seconds, and on until the answers
// have named SESSIONS role sessions (never beyond LIMIT seconds). Prints one line per call
// ("ok" and the caller's Arn, or "FAIL" and the error as the program sees it), then "done".
"use strict";
const { STSClient, GetCallerIdentityCommand } = require("@aws-sdk/client-sts");

const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

async function main() {
  const [seconds, interval, sessions, limit] = process.argv.slice(2).map(Number);
  const client = new STSClient({});
  const start = Date.now();
  const elapsed = () => (Date.now() - start) / 1000;
  const arns = new Set();
  while (elapsed() < Math.min(limit, arns.size >= sessions ? seconds : limit)) {
    try {
      const answer = await client.send(new GetCallerIdentityCommand({}));
      arns.add(answer.Arn);
      console.log(`ok ${answer.Arn}`);
    } catch (error) {
      const detail = error.Message ? ` (${error.Message})` : "";
      console.log(`FAIL ${elapsed().toFixed(1)}s ${error.name}: ${error.message}${detail}`.replace(/\n/g, " "));
    }
    await sleep(interval);
  }
  console.log(`done seconds=${elapsed().toFixed(1)}`);
}

main();
