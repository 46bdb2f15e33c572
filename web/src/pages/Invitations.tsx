// The Members page's pending invitations: who was invited, by whom, until when, and Revoke.
import { useEffect, useState } from "react";
import { PendingInvitationsQuery, RevokeInvitationMutation } from "../api/accountMailOperations";
import { request } from "../api/client";
import { useQuery } from "../api/hooks";
import { ErrorNote } from "../components/bits";
import { formatTime } from "../lib/format";

/** Pending invitations for owners and admins; `version` changes when a new one was sent. */
export function PendingInvitations({ version }: { version: number }) {
  const { data, error, reload } = useQuery(PendingInvitationsQuery, {});
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    if (version > 0) reload();
  }, [version, reload]);
  const revoke = async (id: string, email: string) => {
    if (!confirm(`Revoke the invitation to ${email}? The mailed link stops working.`)) return;
    try {
      const result = (await request(RevokeInvitationMutation, { id })).revokeInvitation;
      setProblem(result.__typename === "Invitation" ? null : "message" in result ? result.message : "Revoking failed");
    } catch (e) {
      setProblem((e as Error).message);
    }
    reload();
  };
  const pending = data?.invitations ?? [];
  if (!error && pending.length === 0) return null;
  return (
    <section className="card" data-testid="invitations" aria-labelledby="invitations-title">
      <h2 id="invitations-title">Pending invitations</h2>
      <ErrorNote error={error ?? problem} />
      <table className="stack-on-phone">
        <thead>
          <tr>
            <th>Email</th>
            <th>Role</th>
            <th>Invited by</th>
            <th>Sent</th>
            <th>Expires</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {pending.map((i) => (
            <tr key={i.id}>
              <td className="wrap-anywhere">{i.email}</td>
              <td>{i.role}</td>
              <td>{i.invitedBy ?? "—"}</td>
              <td className="nowrap">{formatTime(i.createdAt)}</td>
              <td className="nowrap">{formatTime(i.expiresAt)}</td>
              <td>
                <button className="button small danger" onClick={() => void revoke(i.id, i.email)} aria-label={`Revoke the invitation to ${i.email}`}>
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
