#!/usr/bin/env bash
# Re-make the README's example figures and print the numbers it quotes (run from the
# repository root after any change of physics or numerics: `make readme-figures`).
# Outputs go to results/readme/; the figures are copied into studies/figures/.
set -euo pipefail
A=${ANODESIM:-.venv/bin/anodesim}
R=results/readme
F=studies/figures
rm -rf "$R"; mkdir -p "$R" "$F"
uptime
for c in reflection_insert reflection_3d transmission_target; do
  echo "== anodesim run studies/$c.toml"
  /usr/bin/time -f "   wall %e s, CPU %U+%S s, %M kB" \
    "$A" run "studies/$c.toml" -o "$R/$c" --overwrite --no-fail-on-limits
  cp "$R/$c/drift.png" "$F/${c}_drift.png"
  if [ -f "$R/$c/temperature_slices.png" ]; then
    cp "$R/$c/temperature_slices.png" "$F/${c}_temperature_slices.png"
  else
    cp "$R/$c/temperatures.png" "$F/${c}_temperatures.png"
  fi
done
echo "== anodesim rate studies/reflection_insert.toml --chart all"
"$A" rate studies/reflection_insert.toml --chart all -o "$R/reflection_insert_rating"
cp "$R/reflection_insert_rating/rating_single.png" "$F/reflection_insert_rating_single.png"
cp "$R/reflection_insert_rating/rating_duty.png" "$F/reflection_insert_rating_duty.png"
echo "== anodesim rate studies/reflection_insert.toml --chart continuous (the README's console)"
"$A" rate studies/reflection_insert.toml --chart continuous -o "$R/reflection_insert_continuous"
echo "== anodesim rate studies/transmission_target.toml --chart single"
"$A" rate studies/transmission_target.toml --chart single -o "$R/transmission_target_rating"
cp "$R/transmission_target_rating/rating_single.png" "$F/transmission_target_rating_single.png"
echo "== anodesim rate studies/reflection_3d.toml --chart continuous"
"$A" rate studies/reflection_3d.toml --chart continuous -o "$R/reflection_3d_rating"
uptime
