#!/usr/bin/env bash
# Build the Kafka distribution layout from Maven Central with Maven.
# In:  OUT (empty output dir), WORK (scratch dir), KAFKA_VERSION, KAFKA_SCALA_VERSION,
#      KAFKA_DEPENDENCIES (space-separated group:artifact:version),
#      KAFKA_EXCLUSIONS (space-separated artifact=group:artifact, excluded under that dependency).
# Out: $OUT/kafka_<scala>-<version>.tgz with kafka_<scala>-<version>/libs/*.jar inside.
set -euo pipefail
top="kafka_${KAFKA_SCALA_VERSION}-${KAFKA_VERSION}"
pom="$WORK/pom.xml"
{
  echo '<?xml version="1.0" encoding="UTF-8"?>'
  echo '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
  echo "<groupId>stackyard.artifacts</groupId><artifactId>kafka-distribution</artifactId><version>${KAFKA_VERSION}</version>"
  echo '<packaging>pom</packaging><dependencies>'
  for dep in $KAFKA_DEPENDENCIES; do
    IFS=: read -r g a v <<<"$dep"
    echo "<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version><exclusions>"
    for ex in ${KAFKA_EXCLUSIONS:-}; do
      [[ ${ex%%=*} == "$a" ]] || continue
      IFS=: read -r eg ea <<<"${ex#*=}"
      echo "<exclusion><groupId>$eg</groupId><artifactId>$ea</artifactId></exclusion>"
    done
    echo '</exclusions></dependency>'
  done
  echo '</dependencies></project>'
} >"$pom"
echo "[kafka] resolving ${KAFKA_DEPENDENCIES}"
mvn -B -q -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
  -DoutputDirectory="$WORK/$top/libs"
echo "[kafka] $(ls "$WORK/$top/libs" | wc -l) jars"
# Reproducible tarball: sorted names, fixed times and owners, no gzip timestamp.
tar -C "$WORK" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - "$top" |
  gzip -n >"$OUT/$top.tgz"
