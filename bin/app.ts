import { ConfigError } from '../lib/config.ts';
import { buildApp } from '../lib/app.ts';

try {
  buildApp().app.synth();
} catch (error) {
  // A bad configuration is the seller's input, not a bug: show which fields are wrong, not a stack trace.
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
