/**
 * The CSRF token of one client. Learned from the first write the server
 * refuses for want of a token: until then writes go without one, so a server
 * with CSRF protection off (the default) is never asked for a token. One
 * fetch is shared by every request that needs it meanwhile.
 */
export class CsrfToken {
  required = false;
  /** The token in use, or its fetch in flight. */
  private token: Promise<string> | null = null;

  constructor(private readonly fetch: () => Promise<string>) {}

  /** The cached token, or a fetch of a new one that every caller until it settles shares. */
  current(): Promise<string> {
    if (this.token) return this.token;
    const fetching = this.fetch();
    this.token = fetching;
    // A failed fetch is not cached: the next request (or retry) asks again.
    fetching.catch(() => {
      if (this.token === fetching) this.token = null;
    });
    return fetching;
  }

  /**
   * A write was refused for its token: tokens are needed from now on, and the
   * one it carried goes — only if no other request has replaced it meanwhile.
   */
  refused(sent: Promise<string> | null): void {
    this.required = true;
    if (sent !== null && this.token === sent) this.token = null;
  }
}
