/**
 * Signs `RegisterUsage` answers the way Marketplace does: a JWT signed with PS256 by a key whose public half the
 * caller can fetch (here from the control API) to verify it. The key pair is made on first use.
 */
import { constants, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export const PUBLIC_KEY_VERSION = 1;

export class UsageSigner {
  private keys: { privateKey: KeyObject; publicKey: KeyObject } | undefined;

  sign(payload: Record<string, unknown>): string {
    const header = base64url(JSON.stringify({ alg: 'PS256', typ: 'JWT', kid: String(PUBLIC_KEY_VERSION) }));
    const body = base64url(JSON.stringify(payload));
    const signature = sign('sha256', Buffer.from(`${header}.${body}`), {
      key: this.keyPair().privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    });
    return `${header}.${body}.${signature.toString('base64url')}`;
  }

  publicKeyPem(): string {
    return this.keyPair().publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /** The private key (PKCS#8 PEM) once one is made, kept with the simulator's state so that a restart keeps it. */
  privateKeyPem(): string | undefined {
    return this.keys?.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  /** Signs with a key saved before, instead of making a new one. */
  restore(privateKeyPem: string): void {
    const privateKey = createPrivateKey(privateKeyPem);
    this.keys = { privateKey, publicKey: createPublicKey(privateKey) };
  }

  private keyPair() {
    this.keys ??= generateKeyPairSync('rsa', { modulusLength: 2048 });
    return this.keys;
  }
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}
