/* method.h - the selection methods as one table (IOR's aiori / libCEED's backends).
 *
 * Owns: the wn_method record every method fills in, the problem a method is handed (data and kernels
 * already loaded, budget and warm start resolved), and the lookup by name. Adding a paper means one file
 * in src/methods/, one row in src/method.c and one test suite.
 */
#pragma once

#include <winnow/error.h>
#include <winnow/data.h>
#include <winnow/kernel.h>
#include <winnow/greedy.h>
#include <winnow/report.h>
#include <winnow/dpp.h>



/* Which kernels a method needs (the kernel stage builds or loads exactly these). */
enum {
  WN_NEEDS_TARGET_KERNEL  = 1, /* main kernel K[c, t] over the target set (N x M) */
  WN_NEEDS_POOL_KERNEL    = 2, /* main kernel K[c, i] over the pool itself (N x N) */
  WN_NEEDS_QUERY_KERNEL   = 4, /* second kernel: pool x targets (FLMI's SQ) */
  WN_NEEDS_PRIVATE_KERNEL = 8, /* second kernel: pool x existing data (FLCG's SP) */
  WN_NEEDS_EMBEDDINGS     = 16, /* no kernel: the method works on the pool's and the targets' embeddings (TSDS) */
  WN_NEEDS_FEATURES       = 32  /* no kernel, no targets: the pool's own embeddings and signals (DPP, P3); `select` and `run` alike */
};

typedef struct {
  MPI_Comm        comm;        /* borrowed */
  const void     *cfg;         /* the wn_config (borrowed; void to keep this header light) */
  wn_pool        *pool;        /* candidates (ids, labels; embedding may be NULL in `select`), borrowed */
  wn_targets     *targets;     /* may be NULL, borrowed */
  wn_kernel      *K;           /* main kernel, borrowed (NULL when KS is set or the method needs no kernel) */
  wn_sparse_kernel *KS;        /* main kernel in sparse form (-wn_kernel_sparse_k), borrowed, or NULL */
  int64_t          N;          /* candidates */
  wn_kernel      *K_query;     /* FLMI's pool x target kernel or NULL, borrowed */
  wn_kernel      *K_private;   /* FLCG's pool x existing-data kernel or NULL, borrowed */
  wn_greedy_params greedy;     /* budget, warm start, stop rule, progress: resolved */
  double          param_eta;   /* FLMI eta */
  double          param_nu;    /* FLCG nu */
  PetscBool       want_scores; /* fill *scores with each local candidate's singleton gain */
  wn_report      *report;      /* checks are recorded here, borrowed */
} wn_problem;

typedef struct {
  const char *name;     /* value of -wn_method */
  const char *summary;  /* one line for -help and the report */
  const char *citation; /* paper / code it implements */
  unsigned    needs;    /* WN_NEEDS_* */
  const char *score_name; /* name of the per-candidate score (/scores/<name>, JSONL member) */
  /* Select on prob. Collective. *sel owned by the caller; *scores (n_local doubles, PetscMalloc) when
   * prob->want_scores, else left NULL. */
  PetscErrorCode (*select)(wn_problem *prob, wn_selection **sel, double **scores);
} wn_method;

PETSC_EXTERN const wn_method *wn_method_find(const char *name);
PETSC_EXTERN const char      *wn_method_list(void); /* "fl, fl_pool, flmi, flcg" */
PETSC_EXTERN PetscErrorCode   wn_method_print_help(MPI_Comm comm, FILE *fp);

/* The methods, one file per paper (src/methods/). */
PETSC_EXTERN PetscErrorCode wn_select_fl(wn_problem *prob, wn_selection **sel, double **scores);
PETSC_EXTERN PetscErrorCode wn_select_fl_pool(wn_problem *prob, wn_selection **sel, double **scores);
PETSC_EXTERN PetscErrorCode wn_select_flmi(wn_problem *prob, wn_selection **sel, double **scores);
PETSC_EXTERN PetscErrorCode wn_select_flcg(wn_problem *prob, wn_selection **sel, double **scores);
PETSC_EXTERN PetscErrorCode wn_select_tsds(wn_problem *prob, wn_selection **sel, double **scores);
PETSC_EXTERN PetscErrorCode wn_select_dpp(wn_problem *prob, wn_selection **sel, double **scores);
PETSC_EXTERN PetscErrorCode wn_select_dpp_kernel(wn_problem *prob, wn_selection **sel, double **scores);
PETSC_EXTERN PetscErrorCode wn_select_p3(wn_problem *prob, wn_selection **sel, double **scores);
PETSC_EXTERN PetscErrorCode wn_select_lobass(wn_problem *prob, wn_selection **sel, double **scores);

/* Shared by the facility-location family (src/methods/facility_location.c): run the greedy engine on the
 * FL-family objective with the given caps/floors (n_cols arrays or NULL, copied), fill the optional
 * singleton-gain scores, and record the correctness checks (objective recomputed from scratch, gains
 * non-increasing, no duplicates). Collective. */
PETSC_EXTERN PetscErrorCode wn_facility_run(wn_problem *prob, const float *cap, const float *floor0, wn_selection **sel, double **scores);

/* The no_duplicates check shared by every greedy method (src/method.c). Not collective. */
PETSC_EXTERN PetscErrorCode wn_check_no_duplicates(wn_report *report, const wn_selection *sel);

/* Shared by the DPP methods and P3 (src/methods/dpp_method.c). */
typedef struct {
  double    logdet;       /* greedy: sum of log d^2 over the picks */
  PetscBool checked;      /* ScaLAPACK's value was computed */
  double    logdet_check; /* log det(L_Y) from pdpotrf (NaN when not checked) */
  double    rel_diff;     /* |logdet - logdet_check| / max(1, |logdet_check|) */
  double    gflops;       /* pdpotrf rate of the check */
  int       nprow, npcol; /* its BLACS grid */
  PetscBool rank_stop;    /* the epsilon stop (the kernel's numerical rank) ended the selection before the budget */
  PetscBool singular;     /* the (always taken) first pick had d^2 <= 0: log det = -inf, not checked */
} wn_dpp_outcome;
/* One DPP greedy MAP on the engine with the epsilon stop, log-domain gains and the ScaLAPACK check. Collective. */
PETSC_EXTERN PetscErrorCode wn_dpp_select_once(wn_problem *prob, const wn_layout *layout, const wn_dpp_params *p, int64_t d, const float *X, const float *U,
                                               const double *q, const unsigned char *active, int64_t budget, wn_selection **sel, wn_dpp_outcome *out,
                                               wn_objective **keep);
/* Report lines and checks of one DPP selection, and the optional log det(L + I). Collective. */
PETSC_EXTERN PetscErrorCode wn_dpp_report(wn_problem *prob, wn_objective *obj, const wn_selection *sel, const wn_dpp_outcome *o, const wn_dpp_params *p, const char *kernel,
                                          int64_t d, const unsigned char *active);
/* log det(L + I) over the candidate set (ScaLAPACK, after a memory estimate) and log P(Y). Collective. */
PETSC_EXTERN PetscErrorCode wn_dpp_normalize(wn_problem *prob, wn_objective *obj, double logdet_Y, const wn_dpp_params *p, int64_t d, const unsigned char *active);
/* Print the DPP's memory need (largest rank) and refuse it above -wn_memory_limit. Collective. */
PETSC_EXTERN PetscErrorCode wn_dpp_memory_check(wn_problem *prob, const wn_layout *layout, int64_t d, int64_t budget, wn_dpp_kind kind);
/* -wn_dpp_kernel resolved: the method's default for "auto". Pure. */
PETSC_EXTERN wn_dpp_kind wn_dpp_kind_resolve(const void *cfg, wn_dpp_kind auto_kind);
