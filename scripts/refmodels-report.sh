#!/usr/bin/env bash
# refmodels-report.sh DEST — from DEST/logs/<name>.loss.csv and
# DEST/logs/<name>.eval.json (written by scripts/reference-models.sh) write
# DEST/logs/loss.svg (every model's training loss against the step) and
# DEST/logs/results.md (accuracy per task, wikitext2 perplexity, training
# time summed from the logged step times). Needs awk and jq.
set -euo pipefail
dest=${1:?usage: refmodels-report.sh DEST}
logs=$dest/logs
shopt -s nullglob
csvs=("$logs"/*.loss.csv)

# loss.svg: one polyline per model, linear axes.
if [ ${#csvs[@]} -gt 0 ]; then
	awk -F, '
	FNR == 1 { n++; name[n] = FILENAME; sub(/.*\//, "", name[n]); sub(/\.loss\.csv$/, "", name[n]); next }
	{ k = ++cnt[n]; s[n, k] = $1; l[n, k] = $2; if ($1 > xmax) xmax = $1; if ($2 > ymax) ymax = $2 }
	END {
		W = 720; H = 420; L = 60; R = 150; T = 20; B = 50
		ymax = int(ymax) + 1; if (xmax < 1) xmax = 1
		printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
		printf "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H
		pw = W - L - R; ph = H - T - B
		printf "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"black\"/>\n", L, T, pw, ph
		for (i = 0; i <= 4; i++) {
			y = T + ph - i * ph / 4; x = L + i * pw / 4
			printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n", L - 5, y + 4, ymax * i / 4
			printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", x, T + ph + 16, xmax * i / 4
			printf "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, L + pw, y, y
		}
		printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">step</text>\n", L + pw / 2, H - 10
		printf "<text x=\"15\" y=\"%.1f\" transform=\"rotate(-90 15 %.1f)\" text-anchor=\"middle\">training loss (nats/token)</text>\n", T + ph / 2, T + ph / 2
		split("#1f77b4 #d62728 #2ca02c #9467bd #ff7f0e #8c564b", col, " ")
		for (m = 1; m <= n; m++) {
			printf "<polyline fill=\"none\" stroke-width=\"1.2\" stroke=\"%s\" points=\"", col[(m - 1) % 6 + 1]
			for (k = 1; k <= cnt[m]; k++)
				printf "%.1f,%.1f ", L + s[m, k] / xmax * pw, T + ph - l[m, k] / ymax * ph
			printf "\"/>\n"
			printf "<text x=\"%d\" y=\"%d\" fill=\"%s\">%s</text>\n", L + pw + 10, T + 16 * m, col[(m - 1) % 6 + 1], name[m]
		}
		print "</svg>"
	}' "${csvs[@]}" >"$logs/loss.svg"
fi

# results.md: one row per evaluated model.
{
	echo "| model | steps | train min | mmlu | arc_easy | arc_challenge | hellaswag | piqa | winogrande | qnli | mnli | mnli_mm | truthfulqa mc1 | mc2 | advglue (mean) | wikitext2 ppl |"
	echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
	echo "| chance | | | 25 | 25 | 25 | 25 | 50 | 50 | 50 | 33.3 | 33.3 | 25 | | | |"
	for ev in "$logs"/*.eval.json; do
		name=$(basename "$ev" .eval.json)
		csv=$logs/$name.loss.csv
		steps=- minutes=-
		if [ -f "$csv" ]; then
			steps=$(tail -n 1 "$csv" | cut -d, -f1)
			# each logged step: batch × seqlen tokens at tokens_per_s.
			tokens=$(awk -v n="$name" '$1 == n { print $5 * $6 }' "$dest/models.tsv")
			minutes=$(awk -F, -v t="${tokens:-0}" 'NR > 1 && $5 > 0 { s += t / $5 } END { printf "%.1f", s / 60 }' "$csv")
		fi
		row=$(jq -r '
			def pct: if . == null then "-" else (. * 1000 | round / 10 | tostring) end;
			def acc($t): ([.results[] | select(.task == $t) | .metrics.acc] | first) | pct;
			[acc("mmlu"), acc("arc_easy"), acc("arc_challenge"), acc("hellaswag"), acc("piqa"), acc("winogrande"),
			 acc("qnli"), acc("mnli"), acc("mnli_mismatch"), acc("truthfulqa_mc1"), acc("truthfulqa_mc2"),
			 ([.results[] | select(.task | startswith("advglue_")) | .metrics.acc] | if length == 0 then null else add / length end | pct),
			 ([.results[] | select(.task == "wikitext2") | .metrics.ppl] | first | if . == null then "-" else (. * 100 | round / 100 | tostring) end)]
			| join(" | ")' "$ev")
		echo "| $name | $steps | $minutes | $row |"
	done
} >"$logs/results.md"
echo "wrote $logs/results.md and $logs/loss.svg"
