import { generateKeyPairSync } from "node:crypto";

export interface KeyPair {
  /** PKCS#8 PEM. */
  privateKey: string;
  /** SPKI PEM. */
  publicKey: string;
}

/**
 * A fresh RSA-2048 key pair. The example makes one for the sandbox gateway and one for the
 * merchant each time it starts, so no key is ever written to disk or committed. With the real
 * gateway the merchant's pair comes from Alipay's key tool and Alipay's public key from the
 * merchant console.
 */
export function newKeyPair(): KeyPair {
  return generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
}
