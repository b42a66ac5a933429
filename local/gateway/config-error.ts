/**
 * A gateway that cannot be started as configured: a route or stage API Gateway itself would refuse to create. Raised
 * by `startLocalGateway`, before anything listens, so a mistake shows at `npm start` rather than on the first request.
 */
export class GatewayConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GatewayConfigError';
  }
}
