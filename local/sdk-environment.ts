/**
 * Imported first by every local entry point. AWS SDK releases after early January 2027 need Node 22, and the pinned
 * SDK says so on every client construction under Node 20; the lockfile pins a release that supports Node 20, so the
 * warning is noise here.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
