// plugin/llm/estimate.ts
// What a chat request may cost before the provider says, for the reservation: input is the UTF-8
// size of the JSON text of `messages` (and `tools`/`functions`) over 4, a serviceable estimate
// (about +10% on English prose) that settlement on the provider's usage corrects; output is the
// larger of `max_tokens` and `max_completion_tokens` (a request may carry both: taking the smaller
// let hundreds of tokens through a 60-token limit elsewhere), else a default, times `n`.
// Exact tokenizers cost 1-20 ms per 20 KB prompt and fit one model family: not on the hot path.

export interface TokenEstimate {
  readonly input: number;
  readonly output: number;
}

const BYTES_PER_TOKEN = 4;

const jsonBytes = (value: unknown): number => (value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value), 'utf8'));

const positiveInteger = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.ceil(value) : undefined);

/** Token count of `bytes` of text, by the same rule as the input estimate. */
export function tokensOfBytes(bytes: number): number {
  return Math.ceil(bytes / BYTES_PER_TOKEN);
}

export function estimateTokens(body: Readonly<Record<string, unknown>>, defaultMaxTokens: number): TokenEstimate {
  const input = tokensOfBytes(jsonBytes(body['messages']) + jsonBytes(body['tools']) + jsonBytes(body['functions']));
  const limits = [positiveInteger(body['max_tokens']), positiveInteger(body['max_completion_tokens'])].filter((n): n is number => n !== undefined);
  const perChoice = limits.length === 0 ? defaultMaxTokens : Math.max(...limits);
  return { input, output: perChoice * (positiveInteger(body['n']) ?? 1) };
}
