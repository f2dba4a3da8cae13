# ecom_add_mpi_test(<name> COMMAND <exe> [args...] RANKS <n>... [TIMEOUT s] [LABELS l...])
# Registers one CTest test per rank count, run under mpirun, oversubscribed, with the variables
# Open MPI needs to run as root, the PROCESSORS property set so ctest -j does not overload.
function(ecom_add_mpi_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "COMMAND;RANKS;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT ${ECOM_TEST_TIMEOUT})
  endif()
  foreach(n ${ARG_RANKS})
    add_test(NAME ${name}.np${n}
      COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${n} --oversubscribe ${ARG_COMMAND})
    set(procs ${n})
    if(procs GREATER 2)
      set(procs 2)
    endif()
    set_tests_properties(${name}.np${n} PROPERTIES PROCESSORS ${procs} TIMEOUT ${ARG_TIMEOUT}
      LABELS "mpi;${ARG_LABELS}"
      ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1;ECOM_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
  endforeach()
endfunction()
