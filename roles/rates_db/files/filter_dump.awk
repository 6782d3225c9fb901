# Filter a plain-format pg_dump so it loads into this server as the owner role:
#   awk -v owner=ROLE -v checksum=SHA256 -v source=NAME -f filter_dump.awk dump.sql | psql ...
# Dropped: SET lines (settings of other server versions; client_encoding and
# standard_conforming_strings stay, they say how to read the data) and set_config calls,
# CREATE/ALTER DATABASE and \connect (the role creates and picks the database), psql's
# \restrict guards, OWNER TO (the owner role owns everything), GRANT/REVOKE and default
# privileges (roles of the source server; the role grants what the API needs), and
# COMMENT ON EXTENSION (needs the extension's owner). COPY data passes through untouched.
# Prepends SET ROLE to the owner; appends the load marker.
function sql_literal(s) { gsub(/'/, "''", s); return "'" s "'" }
function sql_ident(s) { gsub(/"/, "\"\"", s); return "\"" s "\"" }
BEGIN {
    if (owner == "" || checksum == "") { print "filter_dump.awk: set -v owner= and -v checksum=" > "/dev/stderr"; exit 2 }
    printf "SET ROLE %s;\n", sql_ident(owner)
}
in_copy { print; if ($0 == "\\.") in_copy = 0; next }
/^COPY .* FROM stdin;$/ { in_copy = 1; print; next }
/^SET (client_encoding|standard_conforming_strings) = [^;]*;$/ { print; next }
/^SET / { next }
/^SELECT pg_catalog\.set_config\(/ { next }
/^(CREATE|ALTER) DATABASE / { next }
/^\\(connect|c|restrict|unrestrict)( |$)/ { next }
/^ALTER .* OWNER TO .*;$/ { next }
/^(GRANT|REVOKE) .*;$/ { next }
/^ALTER DEFAULT PRIVILEGES / { next }
/^COMMENT ON EXTENSION / { next }
{ print }
END {
    if (in_copy) { print "filter_dump.awk: the dump ends inside a COPY block (truncated?)" > "/dev/stderr"; exit 3 }
    print "CREATE TABLE public.stackyard_dump_load ("
    print "    checksum text NOT NULL,"
    print "    source text NOT NULL,"
    print "    loaded_at timestamptz NOT NULL DEFAULT now()"
    print ");"
    print "COMMENT ON TABLE public.stackyard_dump_load IS " \
        sql_literal("Written by the stackyard rates_db role with the data: which dump was loaded, and when.") ";"
    printf "INSERT INTO public.stackyard_dump_load (checksum, source) VALUES (%s, %s);\n", \
        sql_literal(checksum), sql_literal(source)
}
