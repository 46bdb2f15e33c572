"""GraphQL mutation `checkIn`: the same service as `POST /checkin/…`."""

from __future__ import annotations

from typing import Annotated

import strawberry

from crontopus.server.availability import Dependency, Unavailable
from crontopus.server.errors import TenantSuspended
from crontopus.server.graphql.context import DependencyUnavailable, Info, TenantSuspendedError
from crontopus.server.graphql.errors import ServiceErrors, UserErrors
from crontopus.server.graphql.runs.types import CheckInInput, Run
from crontopus.server.security.identity_cache import Identity
from crontopus.server.security.ratelimit import Limit
from crontopus.server.services import runs
from crontopus.server.services.checkin_validation import Report
from crontopus.server.services.checkins import CheckInKind
from crontopus.server.services.ingest import CheckInRefused, IngestUnavailable

CheckInResult = Annotated[Run | UserErrors, strawberry.union("CheckInResult")]


@strawberry.type
class RunMutations:
    @strawberry.mutation(
        description="Report a run's start or finish; answered once stored.",
        extensions=[ServiceErrors()],
    )
    async def check_in(self, info: Info, input: CheckInInput) -> CheckInResult:
        context = info.context
        # A suspended tenant's check-ins are stored all the same, then refused: not lost.
        suspended = context.auth_error
        if isinstance(suspended, TenantSuspended) and isinstance(suspended.identity, Identity):
            principal = suspended.identity.principal
        else:
            suspended, principal = None, context.require_principal()
        try:
            await context.limiter.take(Limit.CHECKIN, str(principal.tenant_id))
            kind, status, exit_code = runs.finish_status(input.event.value)
            if input.exit_code is not None and kind is CheckInKind.FINISH:
                exit_code = input.exit_code
            report = Report(
                job_id=input.job_id,
                run_id=input.run_id,
                kind=kind,
                status=status,
                exit_code=exit_code,
                duration_ms=input.duration_ms,
                started_at=input.started_at,
                finished_at=input.finished_at,
                output=input.output,
                commit_id=input.commit_id,
            )
            state = await runs.check_in(
                principal,
                context.ingest,
                context.job_directory,
                report,
                context.settings.checkin_limits,
            )
        except IngestUnavailable as error:
            # Not the caller's fault: retry later, like every other absent-database answer.
            raise DependencyUnavailable(Unavailable(Dependency.DATABASE, str(error))) from None
        except CheckInRefused as error:
            # The writer's own message (with the request id), never the database's.
            raise strawberry.exceptions.StrawberryGraphQLError(
                str(error), extensions={"code": "CHECKIN_REFUSED", "requestId": context.request_id}
            ) from None
        if suspended is not None:
            raise TenantSuspendedError(
                f"{suspended.message}; this check-in was kept", kept=True, runId=str(state.id)
            )
        return Run.from_model(state)
