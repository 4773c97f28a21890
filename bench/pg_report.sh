#!/usr/bin/env bash
# bench/pg_report.sh RAW_CSV SUMMARY_CSV REPORT_DIR "SETTINGS": the summary of bench/pg_compare.sh.
#
# RAW_CSV has one row per measurement (dataset,metric,index,repeat,value). Writes SUMMARY_CSV
# (per dataset and metric: median of the repeats per index, ratio learned/btree, target, PASS/MISS),
# prints it as a table, and draws REPORT_DIR/ratios.png and REPORT_DIR/absolute.png with gnuplot
# plus REPORT_DIR/report.md. Runs on its own too, e.g. to redraw a report from an old raw CSV.
set -euo pipefail
raw=$1 summary=$2 report=$3 settings=${4:-}
mkdir -p "$report"

# metric -> "label|unit|divisor|direction|target" (direction: le = ratio must be <= target).
targets='size_bytes|index size|MB|1048576|le|0.5
build_ms|build time|s|1000|le|1.0
point_tps|point lookup|TPS|1|ge|1.0
point_conc_tps|point lookup concurrent|TPS|1|info|
point_cpu_us|point backend CPU per query|us|1|info|
range_tps|1000-row range|TPS|1|ge|1.0
range_conc_tps|1000-row range concurrent|TPS|1|info|
range_cpu_us|range backend CPU per query|us|1|info|
insert_tps|single-row insert|TPS|1|ge|0.8
insert_cpu_us|insert backend CPU per row|us|1|info|
probe_ns|per-probe cost (AM)|ns|1|le|0.6
scan_ns|probe as own scan (AM)|ns|1|info|
nljoin_ns|NL join per outer row|ns|1|info|'

# Medians per dataset, metric and index, joined with the targets.
awk -F, -v targets="$targets" '
  BEGIN {
    n = split(targets, lines, "\n")
    for (i = 1; i <= n; i++) { split(lines[i], f, "|"); order[i] = f[1]; label[f[1]] = f[2]; unit[f[1]] = f[3];
      div[f[1]] = f[4]; dir[f[1]] = f[5]; target[f[1]] = f[6] }
    nmetrics = n
  }
  NR > 1 && $5 != "" { k = $1 SUBSEP $2 SUBSEP $3; cnt[k]++; val[k, cnt[k]] = $5 + 0; seen[$1] = 1 }
  function lo(k,   i, v) { v = val[k, 1]; for (i = 2; i <= cnt[k]; i++) if (val[k, i] < v) v = val[k, i]; return v }
  function hi(k,   i, v) { v = val[k, 1]; for (i = 2; i <= cnt[k]; i++) if (val[k, i] > v) v = val[k, i]; return v }
  function median(k,   m, i, j, t, a) {
    m = cnt[k]; if (m == 0) return ""
    for (i = 1; i <= m; i++) a[i] = val[k, i]
    for (i = 2; i <= m; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
  }
  END {
    print "dataset,metric,label,unit,btree,learned,ratio,target,result,repeats,btree_min,btree_max,learned_min,learned_max"
    split("rand seq", ds, " ")
    for (di = 1; di <= 2; di++) {
      d = ds[di]; if (!(d in seen)) continue
      for (i = 1; i <= nmetrics; i++) {
        m = order[i]; b = median(d SUBSEP m SUBSEP "btree"); l = median(d SUBSEP m SUBSEP "learned")
        if (b == "" || l == "") continue
        ratio = (b > 0) ? l / b : 0
        res = "info"; tgt = "-"
        if (dir[m] == "le") { tgt = "<=" target[m]; res = (ratio <= target[m]) ? "PASS" : "MISS" }
        if (dir[m] == "ge") { tgt = ">=" target[m]; res = (ratio >= target[m]) ? "PASS" : "MISS" }
        kb = d SUBSEP m SUBSEP "btree"; kl = d SUBSEP m SUBSEP "learned"
        printf "%s,%s,%s,%s,%.6g,%.6g,%.3f,%s,%s,%d,%.6g,%.6g,%.6g,%.6g\n", (d == "rand" ? "random" : "sequential"), m, label[m], unit[m],
               b / div[m], l / div[m], ratio, tgt, res, cnt[kb], lo(kb) / div[m], hi(kb) / div[m], lo(kl) / div[m], hi(kl) / div[m]
      }
    }
  }' "$raw" > "$summary"

# The table on stdout.
table=$(awk -F, 'NR > 1 { printf "| %-10s | %-34s | %12.5g | %12.5g | %6.3f | %-6s | %-6s |\n", $1, $3 " (" $4 ")", $5, $6, $7, $8, $9 }' "$summary")
header='| dataset    | metric                             |        btree |      learned |  ratio | target | result |
|------------|------------------------------------|--------------|--------------|--------|--------|--------|'
echo "$header"; echo "$table"
echo "($settings; medians of the repeats; ratio = learned / btree)"

# Charts.
if command -v gnuplot >/dev/null; then
  # ratios.dat: label random sequential target
  awk -F, 'NR > 1 { key = $3 "\\n(" ($8 == "-" ? "no target" : $8) ")"; if (!(key in seen)) { seen[key] = 1; keys[++n] = key; t[key] = ($8 == "-") ? "NaN" : substr($8, 3) }
                    r[key, $1] = $7 }
           END { for (i = 1; i <= n; i++) { k = keys[i]; printf "\"%s\" %s %s %s\n", k, ((k, "random") in r) ? r[k, "random"] : "NaN",
                   ((k, "sequential") in r) ? r[k, "sequential"] : "NaN", t[k] } }' "$summary" > "$report/ratios.dat"
  gnuplot <<EOF
set terminal pngcairo size 1500,600 font "sans,10"
set output "$report/ratios.png"
set termoption noenhanced
set title "learned / btree (same run, medians): below 1 = learned smaller/faster for size, build, probe, join; above 1 = learned faster for TPS"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:*]
set grid ytics
set key top left
set ylabel "ratio learned / btree"
set bmargin 4
set offsets 0, 0, graph 0.1, 0
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5 lc rgb "#444444"
plot "$report/ratios.dat" using 2:xtic(1) title "random keys" lc rgb "#3b7dd8", \
     '' using 3 title "sequential keys" lc rgb "#e08a2c", \
     '' using 0:4 with points pt 9 ps 2.2 lc rgb "#c0392b" title "target"
EOF
  # absolute.dat per metric block: dataset btree learned
  awk -F, 'NR > 1 { if (!($2 in seen)) { seen[$2] = 1; ms[++n] = $2; lab[$2] = $3 " (" $4 ")" }
                    b[$2, $1] = $5 " " $11 " " $12; l[$2, $1] = $6 " " $13 " " $14 }
           END { for (i = 1; i <= n; i++) { m = ms[i]; printf "# %s\n", lab[m]
                   for (j = 1; j <= 2; j++) { d = (j == 1) ? "random" : "sequential"
                     if ((m, d) in b) printf "%s %s %s\n", d, b[m, d], l[m, d] }
                   printf "\n\n" } ; print n > "/dev/stderr" }' "$summary" > "$report/absolute.dat" 2> "$report/absolute.n"
  nblocks=$(cat "$report/absolute.n"); rm -f "$report/absolute.n"
  titles=$(awk -F, 'NR > 1 && !seen[$2]++ { printf "%s\"%s (%s)\"", (n++ ? " " : ""), $3, $4 }' "$summary")
  gnuplot <<EOF
set terminal pngcairo size 1600,$(( (nblocks + 4) / 5 * 380 )) font "sans,9"
set output "$report/absolute.png"
set termoption noenhanced
set multiplot layout $(( (nblocks + 4) / 5 )),5 title "btree vs learned: medians, bars from min to max of the repeats ($settings)"
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:*]
set grid ytics
set key top left font ",8"
set offsets 0, 0, graph 0.2, 0
array T[$nblocks] = [$(echo "$titles" | sed 's/" "/", "/g')]
do for [i=0:$(( nblocks - 1 ))] {
  set title T[i+1]
  plot "$report/absolute.dat" index i using 2:3:4:xtic(1) title "btree" lc rgb "#7f8c8d", '' index i using 5:6:7 title "learned" lc rgb "#27ae60"
}
unset multiplot
EOF
else
  echo "(gnuplot not found: no charts)"
fi

# report.md
{
  echo "# learned vs btree in PostgreSQL"
  echo
  echo "Produced by \`bench/pg_compare.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores; $settings."
  echo "Methodology and the meaning of each figure: \`docs/bench-pg.md\`."
  echo
  echo "$header"; echo "$table"
  echo
  echo "Ratio = learned / btree of the medians. Size, build time, per-probe cost and join time: lower"
  echo "is better; TPS: higher is better. \`info\` rows have no target."
  echo
  echo "Spread (min .. max over the repeats):"
  echo
  echo "| dataset | metric | repeats | btree | learned |"
  echo "|---|---|---|---|---|"
  awk -F, 'NR > 1 { printf "| %s | %s (%s) | %s | %.5g .. %.5g | %.5g .. %.5g |\n", $1, $3, $4, $10, $11, $12, $13, $14 }' "$summary"
  echo
  echo '![ratios](ratios.png)'
  echo
  echo '![absolute](absolute.png)'
  echo
  if [ -f "$report/stats.txt" ]; then
    echo "## Heap and learned index statistics"; echo; echo '```'; cat "$report/stats.txt"; echo '```'; echo
  fi
  if [ -f "$report/explain.txt" ]; then
    echo "## Plans (EXPLAIN ANALYZE BUFFERS of one query per workload and index)"; echo
    echo "Full text: [explain.txt](explain.txt). Scan node and buffers per query:"; echo; echo '```'
    awk '/^### /{h=substr($0,5)} /Scan using/{s=$0; sub(/^ *(->)? */,"",s); sub(/ +\(.*/,"",s); scan[h]=s}
         /Buffers:/ && !(h in buf){b=$0; sub(/^ */,"",b); buf[h]=b; order[++n]=h}
         END{for(i=1;i<=n;i++) printf "%-22s %-48s %s\n", order[i], scan[order[i]], buf[order[i]]}' "$report/explain.txt"
    echo '```'
  fi
} > "$report/report.md"
echo "wrote $summary, $raw, $report/{report.md,ratios.png,absolute.png}"
