// The SDK clients in tests talk to local endpoints only: give them a region and static
// credentials so that no credential provider ever looks for an instance metadata service.
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_ACCESS_KEY_ID = 'local';
process.env.AWS_SECRET_ACCESS_KEY = 'local';
delete process.env.AWS_PROFILE;
delete process.env.AWS_SESSION_TOKEN;
// Lambda runs Node 22+; the SDK's notice about this machine's Node 20 is noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
// Functions built in tests write no metric lines unless a test asks for them (test/support/metric-lines.ts).
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
