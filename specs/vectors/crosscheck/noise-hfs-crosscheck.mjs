// A second, independent Noise HFS implementation (JavaScript, audited @noble libraries), written from the
// Noise rev 34 and Noise HFS rev 1 texts, used to check ../noise-hfs-mlkem768.json. It shares no code with
// the F# core and no crypto with libsodium: X25519, ChaCha20-Poly1305, AES-256-GCM, SHA-2, BLAKE2b and
// ML-KEM-768 all come from @noble. The hfs patterns are typed in by hand from the HFS spec's §5 table
// (KKhfs and INhfs as its §5 rule places them, see specs/NOISE-CORE.md), not computed by a placement rule,
// so a placement bug on either side shows up as a mismatch. AEGIS vectors are skipped (no AEGIS in @noble).
//
//   npm install @noble/post-quantum@0.7.1 @noble/curves@2.4.0 @noble/ciphers@2.4.0 @noble/hashes@2.4.0
//   node noise-hfs-crosscheck.mjs ../noise-hfs-mlkem768.json
import { readFileSync } from 'node:fs';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { gcm } from '@noble/ciphers/aes.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { blake2b } from '@noble/hashes/blake2.js';
import { hmac } from '@noble/hashes/hmac.js';

const hex = (s) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b) => Buffer.from(b).toString('hex');
const concat = (...xs) => { const out = new Uint8Array(xs.reduce((n, x) => n + x.length, 0)); let o = 0; for (const x of xs) { out.set(x, o); o += x.length; } return out; };

// The HFS spec's §5 table, with KKhfs and INhfs per the §5 rule. [pre-initiator, pre-responder, messages]
const PATTERNS = {
  NN: [[], [], [['e', 'e1'], ['e', 'ee', 'ekem1']]],
  NK: [[], ['s'], [['e', 'es', 'e1'], ['e', 'ee', 'ekem1']]],
  NX: [[], [], [['e', 'e1'], ['e', 'ee', 'ekem1', 's', 'es']]],
  XN: [[], [], [['e', 'e1'], ['e', 'ee', 'ekem1'], ['s', 'se']]],
  XK: [[], ['s'], [['e', 'es', 'e1'], ['e', 'ee', 'ekem1'], ['s', 'se']]],
  XX: [[], [], [['e', 'e1'], ['e', 'ee', 'ekem1', 's', 'es'], ['s', 'se']]],
  KN: [['s'], [], [['e', 'e1'], ['e', 'ee', 'ekem1', 'se']]],
  KK: [['s'], ['s'], [['e', 'es', 'e1', 'ss'], ['e', 'ee', 'ekem1', 'se']]], // table: e, e1, es, ss
  KX: [['s'], [], [['e', 'e1'], ['e', 'ee', 'ekem1', 'se', 's', 'es']]],
  IN: [[], [], [['e', 'e1', 's'], ['e', 'ee', 'ekem1', 'se']]],            // table: e, ekem1, se
  IK: [[], ['s'], [['e', 'es', 'e1', 's', 'ss'], ['e', 'ee', 'ekem1', 'se']]],
  IX: [[], [], [['e', 'e1', 's'], ['e', 'ee', 'ekem1', 'se', 's', 'es']]],
};

const HASHES = { SHA256: sha256, SHA512: sha512, BLAKE2b: blake2b }; // noble's blake2b is BLAKE2b-512

function nonce(cipher, n) {
  const b = new Uint8Array(12); const v = new DataView(b.buffer);
  if (cipher === 'ChaChaPoly') v.setBigUint64(4, BigInt(n), true); else v.setBigUint64(4, BigInt(n), false);
  return b;
}
function aead(cipher, k, n, ad) { return cipher === 'ChaChaPoly' ? chacha20poly1305(k, nonce(cipher, n), ad) : gcm(k, nonce(cipher, n), ad); }

class Sym {
  constructor(name, cipher, hashName) {
    const H = HASHES[hashName];
    this.H = H; this.cipher = cipher; this.len = H(new Uint8Array()).length;
    const bytes = new TextEncoder().encode(name);
    this.h = bytes.length <= this.len ? concat(bytes, new Uint8Array(this.len - bytes.length)) : H(bytes);
    this.ck = this.h; this.k = null; this.n = 0;
  }
  hmacH(key, data) { return hmac(this.H, key, data); }
  hkdf(ikm, count) {
    const temp = this.hmacH(this.ck, ikm);
    const out = []; let prev = new Uint8Array();
    for (let i = 1; i <= count; i++) { prev = this.hmacH(temp, concat(prev, Uint8Array.of(i))); out.push(prev); }
    return out;
  }
  mixHash(d) { this.h = this.H(concat(this.h, d)); }
  mixKey(ikm) { const [ck, k] = this.hkdf(ikm, 2); this.ck = ck; this.k = k.slice(0, 32); this.n = 0; }
  mixKeyAndHash(ikm) { const [ck, th, k] = this.hkdf(ikm, 3); this.ck = ck; this.mixHash(th); this.k = k.slice(0, 32); this.n = 0; }
  encryptAndHash(p) { const c = this.k ? aead(this.cipher, this.k, this.n++, this.h).encrypt(p) : p; this.mixHash(c); return c; }
  decryptAndHash(c) { const p = this.k ? aead(this.cipher, this.k, this.n++, this.h).decrypt(c) : c; this.mixHash(c); return p; }
  tag() { return this.k ? 16 : 0; }
  split() { const [a, b] = this.hkdf(new Uint8Array(), 2); return [a.slice(0, 32), b.slice(0, 32)]; }
}

// Noise §9.4 psk modifiers applied to the typed-in hfs pattern.
function withPsk(messages, positions) {
  const m = messages.map((x) => [...x]);
  for (const p of positions) { if (p === 0) m[0].unshift('psk'); else m[p - 1].push('psk'); }
  return m;
}

function run(v) {
  const [, pattern, dh, cipher, hash] = v.protocol_name.split('_');
  const [base, ...mods] = pattern.replace('hfs', '+hfs').split('+');
  if (dh !== '25519+MLKEM768' || !mods.includes('hfs')) throw new Error('not an hfs name');
  const positions = mods.filter((m) => m.startsWith('psk')).map((m) => Number(m.slice(3)));
  const [preI, preR, msgs] = PATTERNS[base];
  const messages = withPsk(msgs, positions);
  const psk = positions.length > 0;
  const party = (role) => {
    const p = role === 'init' ? 'init' : 'resp';
    const q = role === 'init' ? 'resp' : 'init';
    const s = v[`${p}_static`] && hex(v[`${p}_static`]);
    const e = hex(v[`${p}_ephemeral`]);
    const kemSeed = v[`${p}_kem_seed`] && hex(v[`${p}_kem_seed`]);
    return {
      role, sym: new Sym(v.protocol_name, cipher, hash), psks: (v[`${p}_psks`] || []).map(hex),
      s, spub: s && x25519.getPublicKey(s), e, epub: x25519.getPublicKey(e),
      rs: v[`${p}_remote_static`] && hex(v[`${p}_remote_static`]), re: null,
      kem: kemSeed && ml_kem768.keygen(kemSeed), re1: null,
      randomness: v[`${p}_encaps_randomness`] && hex(v[`${p}_encaps_randomness`]), peer: q,
    };
  };
  const I = party('init'), R = party('resp');
  for (const x of [I, R]) {
    x.sym.mixHash(hex(v[`${x.role}_prologue`]));
    for (const [owner, pre] of [[I, preI], [R, preR]]) for (const t of pre) {
      const key = owner === x ? x.spub : x.rs; if (t === 's') x.sym.mixHash(key);
    }
  }
  const dhOf = (x, t) => {
    const init = x.role === 'init';
    const [a, b] = t === 'ee' ? [x.e, x.re] : t === 'ss' ? [x.s, x.rs]
      : t === 'es' ? (init ? [x.e, x.rs] : [x.s, x.re]) : (init ? [x.s, x.re] : [x.e, x.rs]);
    return x25519.getSharedSecret(a, b);
  };
  let count = 0;
  messages.forEach((tokens, i) => {
    const [w, r] = i % 2 === 0 ? [I, R] : [R, I];
    const { payload, ciphertext } = v.messages[i];
    const parts = [];
    for (const t of tokens) {
      if (t === 'e') { parts.push(w.epub); w.sym.mixHash(w.epub); if (psk) w.sym.mixKey(w.epub); }
      else if (t === 's') parts.push(w.sym.encryptAndHash(w.spub));
      else if (t === 'e1') parts.push(w.sym.encryptAndHash(w.kem.publicKey));
      else if (t === 'ekem1') {
        const { cipherText, sharedSecret } = ml_kem768.encapsulate(w.re1, w.randomness);
        parts.push(w.sym.encryptAndHash(cipherText)); w.sym.mixKey(sharedSecret);
      } else if (t === 'psk') w.sym.mixKeyAndHash(w.psks.shift());
      else w.sym.mixKey(dhOf(w, t));
    }
    parts.push(w.sym.encryptAndHash(hex(payload)));
    const message = concat(...parts);
    if (toHex(message) !== ciphertext) throw new Error(`${v.protocol_name}: handshake message ${i} differs`);
    let o = 0; const take = (n) => message.slice(o, (o += n));
    for (const t of tokens) {
      if (t === 'e') { r.re = take(32); r.sym.mixHash(r.re); if (psk) r.sym.mixKey(r.re); }
      else if (t === 's') r.rs = r.sym.decryptAndHash(take(32 + r.sym.tag()));
      else if (t === 'e1') r.re1 = r.sym.decryptAndHash(take(1184 + r.sym.tag()));
      else if (t === 'ekem1') r.sym.mixKey(ml_kem768.decapsulate(r.sym.decryptAndHash(take(1088 + r.sym.tag())), r.kem.secretKey));
      else if (t === 'psk') r.sym.mixKeyAndHash(r.psks.shift());
      else r.sym.mixKey(dhOf(r, t));
    }
    if (toHex(r.sym.decryptAndHash(message.slice(o))) !== payload) throw new Error(`${v.protocol_name}: payload ${i}`);
    count++;
  });
  if (toHex(I.sym.h) !== v.handshake_hash || toHex(R.sym.h) !== v.handshake_hash) throw new Error(`${v.protocol_name}: handshake hash`);
  const [c1, c2] = I.sym.split();
  const n = [0, 0];
  for (let i = messages.length; i < v.messages.length; i++) {
    const dir = i % 2 === 0 ? 0 : 1; const k = dir === 0 ? c1 : c2;
    const { payload, ciphertext } = v.messages[i];
    const c = aead(cipher, k, n[dir]++, new Uint8Array()).encrypt(hex(payload));
    if (toHex(c) !== ciphertext) throw new Error(`${v.protocol_name}: transport message ${i}`);
    count++;
  }
  const kp = ml_kem768.keygen(hex(v.init_kem_seed));
  const enc = ml_kem768.encapsulate(kp.publicKey, hex(v.resp_encaps_randomness));
  if (toHex(kp.publicKey) !== v.kem_public_key || toHex(enc.cipherText) !== v.kem_ciphertext || toHex(enc.sharedSecret) !== v.kem_output)
    throw new Error(`${v.protocol_name}: KEM values`);
  return count;
}

const vectors = JSON.parse(readFileSync(process.argv[2] ?? '../noise-hfs-mlkem768.json', 'utf8')).vectors;
let checked = 0, messages = 0, skipped = 0;
for (const v of vectors) {
  if (v.protocol_name.includes('_AEGIS')) { skipped++; continue; }
  messages += run(v); checked++;
}
console.log(`${checked} vectors (${messages} messages) match an independent implementation; ${skipped} AEGIS vectors skipped`);
