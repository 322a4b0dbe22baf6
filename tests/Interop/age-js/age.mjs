// Runs typage (the age-encryption package) for tests/Cli/AgeInterop.fs:
//   node age.mjs keygen-pq OUT.identity         writes AGE-SECRET-KEY-PQ-1... and prints the age1pq1... recipient
//   node age.mjs encrypt IN OUT [-a] RECIPIENT...
//   node age.mjs decrypt IN OUT IDENTITY...     (binary or armored input)
import { readFileSync, writeFileSync } from "node:fs";
import * as age from "age-encryption";

const [command, ...args] = process.argv.slice(2);
if (command === "keygen-pq") {
  const identity = await age.generateHybridIdentity();
  writeFileSync(args[0], identity + "\n");
  console.log(await age.identityToRecipient(identity));
} else if (command === "encrypt") {
  const [input, output, ...rest] = args;
  const armor = rest.includes("-a");
  const e = new age.Encrypter();
  for (const r of rest.filter((x) => x !== "-a")) e.addRecipient(r);
  const ciphertext = await e.encrypt(readFileSync(input));
  writeFileSync(output, armor ? age.armor.encode(ciphertext) : ciphertext);
} else if (command === "decrypt") {
  const [input, output, ...identities] = args;
  const d = new age.Decrypter();
  for (const i of identities) d.addIdentity(i);
  let bytes = readFileSync(input);
  const text = bytes.toString("latin1");
  if (text.trimStart().startsWith("-----BEGIN")) bytes = age.armor.decode(text);
  writeFileSync(output, await d.decrypt(bytes));
} else {
  console.error("usage: age.mjs keygen-pq|encrypt|decrypt ...");
  process.exit(2);
}
