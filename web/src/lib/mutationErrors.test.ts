import { describe, expect, it } from "vitest";
import { failureText, mutationProblem } from "./mutationErrors";

describe("mutation errors", () => {
  it("names each field problem by its path after the message", () => {
    const answer = {
      __typename: "ValidationError",
      message: "the input is invalid",
      fields: [{ path: ["input", "name"], message: "must not be empty" }],
    };
    expect(mutationProblem(answer, "Saving failed")).toBe("the input is invalid — input.name: must not be empty");
  });

  it("is null when the mutation worked, and falls back when an error says nothing", () => {
    expect(mutationProblem({ __typename: "Secret" }, "Saving failed")).toBeNull();
    expect(failureText({ __typename: "ConflictError", message: "" }, "Saving failed")).toBe("Saving failed");
  });
});
