/**
 * Calls to the local API's IAM-authorized routes (`GET /subscribers/{id}`, `POST /usage`), signed as the seller's app
 * signs them in AWS: SigV4 for `execute-api` in the stack's region. The local gateway accepts any access key id with
 * the local stack's secret access key, `local`.
 *
 * @example
 * const answer = await fetchSigned(`${apiUrl}/subscribers/${encodeURIComponent(subscriberId)}`);
 */
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { apiRegionOf, loadLocalConfig } from '../config.ts';
import { LOCAL_CREDENTIALS } from '../local-aws.ts';

export interface SignedRequest {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface SigningOptions {
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** The signature's date; now by default. */
  readonly signingDate?: Date;
  /** The region to sign for: by default the one `npm start`'s API takes, as cdk.json names it (`apiRegionOf`). */
  readonly region?: string;
}

export async function fetchSigned(
  url: string | URL,
  request: SignedRequest = {},
  options: SigningOptions = {},
): Promise<Response> {
  const target = new URL(url);
  const method = request.method ?? 'GET';
  const signer = new SignatureV4({
    service: 'execute-api',
    region: options.region ?? configuredApiRegion(),
    credentials: options.credentials ?? LOCAL_CREDENTIALS,
    sha256: Sha256,
  });
  const signed = await signer.sign(
    {
      method,
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port === '' ? undefined : Number(target.port),
      path: target.pathname,
      query: Object.fromEntries(target.searchParams),
      headers: { ...request.headers, host: target.host },
      ...(request.body === undefined ? {} : { body: request.body }),
    },
    options.signingDate === undefined ? {} : { signingDate: options.signingDate },
  );
  return fetch(target, {
    method,
    // fetch sets `host` from the URL itself (the value that was signed) and refuses one passed to it.
    headers: Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name !== 'host')),
    ...(request.body === undefined ? {} : { body: request.body }),
  });
}

let apiRegion: string | undefined;

/** The region of the API `npm start` serves from this repository's cdk.json, read once. */
function configuredApiRegion(): string {
  apiRegion ??= apiRegionOf(loadLocalConfig());
  return apiRegion;
}
