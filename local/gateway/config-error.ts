/**
 * A gateway that cannot be started as configured: a route or stage API Gateway itself would refuse to create. Raised
 * by `startLocalGateway`, before anything listens, so a mistake shows at `npm start` rather than on the first request.
 */
import { LocalStackError } from '../errors.ts';

export class GatewayConfigError extends LocalStackError {
  override readonly name = 'GatewayConfigError';
}
