// The "Operator" entry of the navigation, shown only to platform operators (`me.operator`).
import { useQuery } from "../api/hooks";
import { OperatorFlagQuery } from "../api/operatorOperations";
import { Link } from "../router";

export function OperatorNavLink({ section }: { section: string }) {
  const me = useQuery(OperatorFlagQuery, {});
  if (!me.data?.me.operator) return null;
  const active = section === "/operator";
  return (
    <Link href="/operator" className={active ? "active" : ""} aria-current={active ? "page" : undefined}>
      Operator
    </Link>
  );
}
