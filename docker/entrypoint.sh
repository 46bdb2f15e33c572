#!/bin/sh
# The Crontopus image's entrypoint. `serve` (the default) first migrates the database, waiting
# for it to accept connections (a database container may still be starting); other
# crontopus-server commands run as they are, and anything else (a shell) runs as given.
#
#   CRONTOPUS_MIGRATE=false       skip the migration (another process owns it)
#   CRONTOPUS_MIGRATE_WAIT=60     seconds to keep retrying the migration before giving up
set -eu

server=${CRONTOPUS_SERVER_COMMAND:-crontopus-server}
[ "$#" -gt 0 ] || set -- serve

migrate() {
    wait=${CRONTOPUS_MIGRATE_WAIT:-60}
    case $wait in
        '' | *[!0-9]*)
            echo "crontopus-entrypoint: CRONTOPUS_MIGRATE_WAIT: '$wait' is not a number of seconds (e.g. 60)" >&2
            exit 2
            ;;
    esac
    deadline=$(($(date +%s) + wait))
    until "$server" migrate; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "crontopus-entrypoint: the database was not migrated within ${wait} s: check CRONTOPUS_DATABASE_URL and that the database is up" >&2
            exit 1
        fi
        echo "crontopus-entrypoint: migration failed; retrying in 2 s" >&2
        sleep 2
    done
}

case $1 in
    serve)
        case ${CRONTOPUS_MIGRATE:-true} in
            true | 1 | yes) migrate ;;
            false | 0 | no) ;;
            *)
                echo "crontopus-entrypoint: CRONTOPUS_MIGRATE: '${CRONTOPUS_MIGRATE}' is not true or false" >&2
                exit 2
                ;;
        esac
        exec "$server" "$@"
        ;;
    -* | worker | migrate | create-user | backup | restore | export-schema)
        exec "$server" "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
