// The BFF's OpenAPI document (the committed copy the BFF serves byte for byte): the library's
// own types (session-info.ts) and defaults must match what the BFF documents, so a change on the
// Rust side that the library would misread fails here, not in a user's browser.
import spec from '../../../../openapi/oidc-bff.json';
import { OIDC_BFF_DEFAULTS } from './config';

interface Schema {
  type?: string;
  format?: string;
  $ref?: string;
  items?: Schema;
  required?: string[];
  properties?: Record<string, Schema>;
}
interface Parameter {
  name: string;
  in: string;
  schema?: Schema;
}
interface Operation {
  parameters?: Parameter[];
  responses: Record<string, { content?: Record<string, { schema?: Schema }> }>;
}

const schemas = (spec as unknown as { components: { schemas: Record<string, Schema> } }).components.schemas;
const paths = (spec as unknown as { paths: Record<string, Record<string, Operation>> }).paths;

/** The JSON schema of an operation's 200 answer. */
function answer(path: string, method: string): Schema | undefined {
  const content = paths[path]?.[method]?.responses['200']?.content ?? {};
  return Object.values(content)[0]?.schema;
}

describe('the BFF\'s OpenAPI document agrees with the library', () => {
  it('GET sessionPath answers SessionInfo with the fields the store reads', () => {
    expect(answer(OIDC_BFF_DEFAULTS.sessionPath, 'get')?.$ref).toBe('#/components/schemas/SessionInfo');
    const info = schemas['SessionInfo'];
    expect(info.required).toContain('authenticated');
    expect(info.properties?.['authenticated']?.type).toBe('boolean');
    expect(info.properties?.['user']?.$ref).toBe('#/components/schemas/User');
    expect(info.properties?.['expiresAt']).toMatchObject({ type: 'string', format: 'date-time' });
    expect(info.properties?.['logoutUrl']?.type).toBe('string');
    expect(info.properties?.['csrfToken']?.type).toBe('string');
  });

  it('User has sub and roles (required), name and e-mail', () => {
    const user = schemas['User'];
    expect(user.required).toEqual(expect.arrayContaining(['sub', 'roles']));
    expect(user.properties?.['sub']?.type).toBe('string');
    expect(user.properties?.['roles']).toMatchObject({ type: 'array', items: { type: 'string' } });
    expect(user.properties?.['name']?.type).toBe('string');
    expect(user.properties?.['email']?.type).toBe('string');
  });

  it('POST logoutPath takes the CSRF header the library sends and answers LogoutResult', () => {
    const logout = paths[OIDC_BFF_DEFAULTS.logoutPath]?.['post'];
    expect(logout?.parameters?.some((p) => p.in === 'header' && p.name === OIDC_BFF_DEFAULTS.xsrfHeaderName)).toBe(true);
    expect(answer(OIDC_BFF_DEFAULTS.logoutPath, 'post')?.$ref).toBe('#/components/schemas/LogoutResult');
    expect(schemas['LogoutResult'].required).toContain('logoutUrl');
  });

  it('GET loginPath takes returnTo', () => {
    const login = paths[OIDC_BFF_DEFAULTS.loginPath]?.['get'];
    expect(login?.parameters?.some((p) => p.in === 'query' && p.name === 'returnTo')).toBe(true);
  });
});
