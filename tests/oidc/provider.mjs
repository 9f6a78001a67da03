// An OpenID Connect provider for the single sign-on tests, shaped like Keycloak.
//
//   node provider.mjs --client-id studio --client-secret s3cret \
//     --redirect-uri http://127.0.0.1:8000/oidc/callback/ --accounts accounts.json [--port 0]
//
// Every option can also come from the environment: --client-id is PROVIDER_CLIENT_ID, and so on
// (PROVIDER_REDIRECT_URIS takes a comma-separated list; --redirect-uri may be repeated). Port 0
// (the default) picks a free port. Once it listens, the provider prints one line to stdout:
//
//   listening on http://127.0.0.1:PORT
//
// and the issuer is that URL. The accounts file is read again on every sign-in, so a test can
// change someone's groups between two logins. Its shape:
//
//   {"fiona": {"password": "pw", "claims": {"sub": "...", "preferred_username": "fiona",
//     "email": "...", "email_verified": true, "given_name": "...", "family_name": "...",
//     "groups": ["/studio/Flow Builder"], "realm_access": {"roles": ["Flow Builder"]}}}}
//
// The login form is the provider's own (username, password, "Sign in"); consent is implied, as
// for a first-party client in Keycloak.
//
// Like a Keycloak client with direct access grants, the public client `admin-cli` may use the
// password grant at the token endpoint:
//
//   POST /token  grant_type=password&client_id=admin-cli&username=fiona&password=pw
//                [&audience=studio] [&ttl=SECONDS]
//
// and gets a JWT access token (RS256, the provider's key) with Keycloak's claims: iss, sub, aud
// (`audience`, default "account"), azp (the client), exp (`ttl` seconds, default 300), jti, and
// the account's claims (preferred_username, email, groups, realm_access, ...).

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: argv } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    accounts: { type: 'string' },
  },
});

function option(name, fallback) {
  const value = argv[name] ?? process.env[`PROVIDER_${name.toUpperCase().replaceAll('-', '_')}`];
  if (value === undefined || value === '') {
    if (fallback === undefined) {
      console.error(`provider.mjs: --${name} is required`);
      process.exit(2);
    }
    return fallback;
  }
  return value;
}

const host = option('host', '127.0.0.1');
const port = Number(option('port', '0'));
const clientId = option('client-id');
const clientSecret = option('client-secret');
const accountsFile = option('accounts');
const redirectUris = argv['redirect-uri']
  ?? (process.env.PROVIDER_REDIRECT_URIS ?? '').split(',').filter(Boolean);
if (redirectUris.length === 0) {
  console.error('provider.mjs: --redirect-uri (or PROVIDER_REDIRECT_URIS) is required');
  process.exit(2);
}

function accounts() {
  return JSON.parse(readFileSync(accountsFile, 'utf8'));
}

function accountBySubject(sub) {
  return Object.values(accounts()).find((account) => account.claims.sub === sub);
}

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, error) {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in to the identity provider</title></head>
<body>
<h1>Sign in to the identity provider</h1>
${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}">
  <label>Username <input name="username" autocomplete="off" autofocus required></label>
  <label>Password <input name="password" type="password" required></label>
  <button type="submit">Sign in</button>
</form>
</body></html>`;
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10_000) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

let provider;

const PASSWORD_GRANT_PARAMS = ['username', 'password', 'scope', 'audience', 'ttl'];

async function passwordGrant(ctx) {
  const { params, client } = ctx.oidc;
  const account = accounts()[params.username];
  if (!account || account.password !== params.password) {
    throw new errors.InvalidGrant('Invalid user credentials');
  }
  const ttl = params.ttl === undefined ? 300 : Number(params.ttl);
  if (!Number.isInteger(ttl) || ttl < 1) throw new errors.InvalidRequest('ttl must be seconds');
  const audience = params.audience || 'account';
  const token = new ctx.oidc.provider.AccessToken({
    accountId: account.claims.sub,
    client,
    scope: 'openid',
    expiresIn: ttl,
    gty: 'password',
  });
  token.resourceServer = {
    audience,
    scope: 'openid',
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'RS256' } },
    identifier: () => audience,
  };
  ctx.body = {
    access_token: await token.save(),
    expires_in: token.expiration,
    token_type: 'Bearer',
    scope: 'openid',
  };
}

async function interaction(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    res.writeHead(400).end('unknown interaction');
    return;
  }
  const { prompt, params, session } = details;
  if (prompt.name === 'consent') {
    // First-party client: grant what it asked for without asking.
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    grant.addOIDCScope(params.scope);
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, {
      mergeWithLastSubmission: true,
    });
    return;
  }
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(loginPage(uid));
    return;
  }
  const form = await readForm(req);
  const account = accounts()[form.get('username')];
  if (!account || account.password !== form.get('password')) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      .end(loginPage(uid, 'Invalid username or password.'));
    return;
  }
  await provider.interactionFinished(req, res, { login: { accountId: account.claims.sub } }, {
    mergeWithLastSubmission: false,
  });
}

const server = http.createServer((req, res) => {
  const match = /^\/interaction\/([\w-]+)$/.exec(new URL(req.url, 'http://x').pathname);
  if (!match) {
    provider.callback()(req, res);
    return;
  }
  interaction(req, res, match[1]).catch((error) => {
    console.error(error);
    if (!res.headersSent) res.writeHead(500);
    res.end(String(error));
  });
});

server.listen(port, host, () => {
  const issuer = `http://${host}:${server.address().port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', alg: 'RS256', use: 'sig' };

  provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
      {
        client_id: 'admin-cli',
        grant_types: ['password'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'none',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    // Keycloak puts its group and role mappers' claims in the default scopes.
    claims: {
      openid: ['sub', 'groups', 'realm_access'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'name', 'given_name', 'family_name'],
    },
    features: { devInteractions: { enabled: false } },
    // The password grant's JWT access tokens carry what Keycloak's do.
    async extraTokenClaims(ctx, token) {
      if (token.gty !== 'password') return undefined;
      const { sub, ...claims } = accountBySubject(token.accountId)?.claims ?? {};
      return { typ: 'Bearer', azp: token.clientId, ...claims };
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, sub) {
      const account = accountBySubject(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: async () => ({ ...account.claims, sub }) };
    },
  });
  provider.registerGrantType('password', passwordGrant, PASSWORD_GRANT_PARAMS);
  console.log(`listening on ${issuer}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
