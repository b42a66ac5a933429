/**
 * Responses for the registration capability's pages: each with the security headers that this deployment's branding
 * calls for (the logo's origin for images, the free-trial landing page's origin for the form).
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { BUYER_RETRY_AFTER_SECONDS } from '../../contracts/index.ts';
import type { ProductListing, RegistrationSettings } from '../core/environment.ts';
import type { SafeHtml } from './html.ts';
import { htmlResponse, securityHeaders, seeOther } from './http.ts';
import { problemPage, STYLESHEET, type Branding, type Problem } from './pages.ts';

export class PageResponses {
  readonly headers: Record<string, string>;
  private readonly productNames: ReadonlyMap<string, string>;

  constructor(
    readonly settings: RegistrationSettings,
    products: readonly ProductListing[],
  ) {
    this.productNames = new Map(products.map((product) => [product.code, product.name]));
    this.headers = securityHeaders(STYLESHEET, {
      imageOrigins: originsOf(settings.logoUrl),
      formTargets: originsOf(settings.freeTrialLandingUrl),
    });
  }

  branding(productCode?: string): Branding {
    return {
      settings: this.settings,
      productName: productCode === undefined ? undefined : this.productNames.get(productCode),
    };
  }

  page(statusCode: number, page: SafeHtml, cookies: readonly string[] = []): APIGatewayProxyResult {
    return htmlResponse(statusCode, page, this.headers, cookies);
  }

  /**
   * `registerHref`: the registration page relative to the request's address, for the pages that link to it; `status`:
   * in place of the problem's own, for a page that is an answer to a GET as well as a refusal of a form.
   */
  problem(
    problem: Problem,
    productCode?: string,
    options: {
      readonly headers?: Record<string, string>;
      readonly registerHref?: string;
      readonly status?: number;
    } = {},
  ): APIGatewayProxyResult {
    const { status: problemStatus, page } = problemPage(problem, this.branding(productCode), options.registerHref);
    const status = options.status ?? problemStatus;
    const headers = {
      ...this.headers,
      ...(status === 503 ? { 'retry-after': String(BUYER_RETRY_AFTER_SECONDS) } : {}),
      ...options.headers,
    };
    return htmlResponse(status, page, headers);
  }

  seeOther(location: string, cookies: readonly string[] = []): APIGatewayProxyResult {
    return seeOther(location, this.headers, cookies);
  }
}

function originsOf(url: string | undefined): string[] {
  return url === undefined ? [] : [new URL(url).origin];
}
