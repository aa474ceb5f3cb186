#include <winnow/error.h>
int main(void){return 0;}
