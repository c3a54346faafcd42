// A plain fetch-based view of the Prefect API for assertions, independent of
// the client under test.

export interface ApiOptions {
  headers?: Record<string, string>;
}

export function prefectApi(apiUrl: string, options: ApiOptions = {}) {
  const call = async <T = unknown>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; data: T }> => {
    const response = await fetch(`${apiUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...options.headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, data: (text ? JSON.parse(text) : null) as T };
  };
  return {
    call,
    async deploymentsByTag(tag: string): Promise<Record<string, any>[]> {
      const all: Record<string, any>[] = [];
      for (let offset = 0; ; offset += 200) {
        const { data } = await call<Record<string, any>[]>('POST', '/deployments/filter', {
          limit: 200,
          offset,
          deployments: { tags: { all_: [tag] } },
        });
        all.push(...data);
        if (data.length < 200) return all;
      }
    },
    async deployment(id: string): Promise<Record<string, any> | null> {
      const { status, data } = await call<Record<string, any>>('GET', `/deployments/${id}`);
      return status === 404 ? null : data;
    },
    async flowName(flowId: string): Promise<string> {
      return (await call<{ name: string }>('GET', `/flows/${flowId}`)).data.name;
    },
    /** Prefect's own events about some deployments since a time. */
    async deploymentEvents(
      ids: string[],
      since: Date,
      prefix = 'prefect.deployment.',
    ): Promise<Record<string, any>[]> {
      const events: Record<string, any>[] = [];
      let response = await call<{ events: Record<string, any>[]; next_page: string | null }>(
        'POST',
        '/events/filter',
        {
          filter: {
            occurred: { since: since.toISOString() },
            event: { prefix: [prefix] },
            resource: { id: ids.map((id) => `prefect.deployment.${id}`) },
          },
          limit: 50,
        },
      );
      events.push(...response.data.events);
      while (response.data.next_page) {
        const next = await fetch(response.data.next_page, { headers: options.headers });
        response = { status: next.status, data: (await next.json()) as typeof response.data };
        events.push(...response.data.events);
      }
      return events;
    },
  };
}

export async function eventually<T>(
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!accept(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    last = await probe();
  }
  return last;
}

/**
 * A deployment made by hand (no managed tag) under the name a connector's
 * would take, in the test's flow: that connector is then in conflict.
 */
export async function handMadeDeployment(
  apiUrl: string,
  flowName: string,
  name: string,
): Promise<string> {
  const api = prefectApi(apiUrl);
  const flow = await api.call<{ id: string }>('POST', '/flows/', { name: flowName });
  const made = await api.call<{ id: string }>('POST', '/deployments/', {
    name,
    flow_id: flow.data.id,
    tags: ['hand-made'],
  });
  return made.data.id;
}
