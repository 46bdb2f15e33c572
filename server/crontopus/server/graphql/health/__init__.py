"""GraphQL: health from hourly rollups."""
