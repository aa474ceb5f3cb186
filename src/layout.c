/* layout.c - the balanced contiguous row-block split (DESIGN.md section 3): rank r owns
 * [start_r, start_r + count_r), the first N mod P ranks get one extra row. Pure arithmetic.
 */
#include <winnow/layout.h>

void wn_layout_range(int64_t n_global, int size, int r, int64_t *start, int64_t *count)
{
  int64_t base = n_global / size, extra = n_global % size;

  *count = base + (r < extra ? 1 : 0);
  *start = (int64_t)r * base + (r < extra ? r : extra);
}

int wn_layout_owner(int64_t n_global, int size, int64_t g)
{
  int64_t base = n_global / size, extra = n_global % size, cut = extra * (base + 1);

  if (g < cut) return (int)(g / (base + 1));
  return (int)(extra + (g - cut) / base);
}

/**
  @brief Fill a layout for n_global rows split over comm.

  Not collective.

  @param[in]  comm      communicator (borrowed; stored in the layout)
  @param[in]  n_global  total rows, >= 0
  @param[out] layout    filled
**/
PetscErrorCode wn_layout_init(MPI_Comm comm, int64_t n_global, wn_layout *layout)
{
  PetscFunctionBeginUser;
  PetscCheck(n_global >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "row count must be >= 0, got %lld", (long long)n_global);
  layout->comm     = comm;
  layout->n_global = n_global;
  PetscCallMPI(MPI_Comm_rank(comm, &layout->rank));
  PetscCallMPI(MPI_Comm_size(comm, &layout->size));
  wn_layout_range(n_global, layout->size, layout->rank, &layout->row_start, &layout->n_local);
  PetscFunctionReturn(PETSC_SUCCESS);
}
