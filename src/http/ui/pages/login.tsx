import { Layout } from "../layout";

export interface LoginProps {
  nonce: string;
  loginToken: string;
  next: string;
  error?: string;
  /** Cloudflare Access mode: no token form, Access signs agents in. */
  accessTeamDomain?: string;
  /** Nothing to sign sessions with (no API_TOKENS, no SESSION_SECRET). */
  unconfigured?: boolean;
}

export function LoginPage(props: LoginProps) {
  return (
    <Layout title="Sign in" nonce={props.nonce} section="login">
      <div class="login card">
        <h1>Agent sign-in</h1>
        {props.accessTeamDomain !== undefined ? (
          <p>
            This desk signs agents in with Cloudflare Access ({props.accessTeamDomain}). Open the console
            through its Access-protected address; there is no token sign-in.
          </p>
        ) : props.unconfigured ? (
          <p role="alert">
            No agent tokens are configured. Set <code>API_TOKENS</code> (<code>agent:token</code> pairs) to
            sign in.
          </p>
        ) : (
          <form method="post" action="/login" class="stack">
            {props.error === undefined ? null : (
              <div class="flash error" role="alert" id="login-error">
                {props.error}
              </div>
            )}
            <p class="muted">
              Sign in with your agent token (the same token the API takes as a bearer token).
            </p>
            <input type="hidden" name="_csrf" value={props.loginToken} />
            <input type="hidden" name="next" value={props.next} />
            <div class="field">
              <label for="token">Agent token</label>
              <input
                type="password"
                id="token"
                name="token"
                required
                autocomplete="current-password"
                aria-describedby={props.error === undefined ? undefined : "login-error"}
              />
            </div>
            <div>
              <button type="submit">Sign in</button>
            </div>
          </form>
        )}
        <p class="muted">
          Looking for answers? <a href="/kb">Search the knowledge base</a> — no sign-in needed.
        </p>
      </div>
    </Layout>
  );
}
