// A list's search form whose values live in the URL (?q=…), so a search is a link and "back" works.
import type { FormEvent, ReactNode } from "react";
import { navigate, useLocation } from "../router";

/** The URL's search values for a list page, and a form that changes them. */
export function useUrlSearch(): URLSearchParams {
  return new URLSearchParams(useLocation().query.toString());
}

export function SearchForm({ path, placeholder, children }: { path: string; placeholder: string; children?: ReactNode }) {
  const { query } = useLocation();
  const apply = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(event.currentTarget)) if (value) params.set(key, String(value));
    navigate(`${path}${params.size ? `?${params}` : ""}`);
  };
  return (
    <form className="filters" role="search" onSubmit={apply} key={query.toString()}>
      <input name="q" type="search" placeholder={placeholder} defaultValue={query.get("q") ?? ""} aria-label="Search" />
      {children}
      <button className="button">Search</button>
    </form>
  );
}
