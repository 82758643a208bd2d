// A real OpenID provider (node-oidc-provider) for the OIDC tests, on loopback only.
//
// Configured from the environment by tests/oidc/fixtures.py:
//   OIDC_PORT         port to listen on (127.0.0.1)
//   OIDC_CLIENTS      JSON array of client metadata
//   OIDC_JWKS_FILE    JSON file with the private signing keys ({"keys": [...]})
// Accounts: any login works (devInteractions); a few have claims of their own below, the
// rest get `<login>@example.com`. Prints "ready <issuer>" once listening.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OIDC_CLIENTS);
const jwks = JSON.parse(readFileSync(process.env.OIDC_JWKS_FILE, 'utf8'));

const accounts = {
  alice: { email: 'alice@example.com', email_verified: true, name: 'Alice', groups: ['family'] },
  bob: { email: 'bob@example.com', email_verified: true, name: 'Bob', groups: ['guests'] },
  mallory: { email: 'mallory@evil.test', email_verified: true, name: 'Mallory', groups: [] },
  unverified: { email: 'unverified@example.com', email_verified: false, groups: ['family'] },
};

const configuration = {
  clients,
  jwks,
  cookies: { keys: ['test-only-cookie-key'] },
  // ID tokens carry the claims of the granted scopes (the relying party reads them there).
  conformIdTokenClaims: false,
  scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
  },
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        const own = accounts[id] ?? { email: `${id}@example.com`, email_verified: true, groups: [] };
        return { sub: id, preferred_username: id, ...own };
      },
    };
  },
};

const provider = new Provider(issuer, configuration);
const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
