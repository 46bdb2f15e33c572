// How the console words a mutation that answered with one of the API's typed errors.

/** A mutation's answer as far as errors go: `__typename`, and `message`/`fields` on errors. */
export type MutationAnswer = {
  __typename: string;
  message?: string | null;
  fields?: readonly { path: readonly string[]; message: string }[] | null;
};

/** The error's message followed by each field problem named by its path ("a.b: …"). */
export function failureText(answer: MutationAnswer, fallback: string): string {
  const fields = answer.fields?.map((f) => `${f.path.join(".")}: ${f.message}`) ?? [];
  return [answer.message || fallback, ...fields].join(" — ");
}

/** `failureText` for an answer whose type is an error (`…Error`), else null: it worked. */
export function mutationProblem(answer: MutationAnswer, fallback: string): string | null {
  return answer.__typename.endsWith("Error") ? failureText(answer, fallback) : null;
}
