# Runs raftsim_mutants with one planted bug over up to 2,000 seeds and
# passes only if some seed fails: the simulator must catch every mutant.
execute_process(
  COMMAND ${RAFTSIM} --mutant=${MUTANT} --seeds=2000 --stop_on_failure
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
string(REGEX MATCH "seeds=[0-9]+ failures=[0-9]+" last "${out}")
string(REGEX MATCH "FAIL seed=[^\n]*" first_failure "${out}")
if(rc EQUAL 0 OR NOT last MATCHES "failures=[1-9]")
  message(FATAL_ERROR "mutant ${MUTANT} survived: raftsim exited ${rc} (${last})\n${out}")
endif()
message(STATUS "mutant ${MUTANT} caught: ${first_failure} (${last})")
