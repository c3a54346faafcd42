import { prefectApi } from './prefect-api.js';

/** Prefect's stored copies of some events, by their ids (occurred within `withinMs` of now). */
export async function storedInPrefect(
  apiUrl: string,
  ids: string[],
  withinMs = 3_600_000,
): Promise<Record<string, any>[]> {
  const found: Record<string, any>[] = [];
  for (let i = 0; i < ids.length; i += 50) {
    const { data } = await prefectApi(apiUrl).call<{ events: Record<string, any>[] }>(
      'POST',
      '/events/filter',
      {
        filter: {
          id: { id: ids.slice(i, i + 50) },
          occurred: { since: new Date(Date.now() - withinMs).toISOString() },
        },
        limit: 50,
      },
    );
    found.push(...data.events);
  }
  return found;
}
